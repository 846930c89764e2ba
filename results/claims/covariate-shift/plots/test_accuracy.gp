set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/covariate-shift/plots/test_accuracy.png.tmp'
set title 'Test accuracy on the 1000 probe images (eval mode)'
set xlabel 'step'
set ylabel 'accuracy'
set key bottom right
set grid
plot 'results/claims/covariate-shift/plots/test_accuracy.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'noisy-bn'
