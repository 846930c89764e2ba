set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/batch-size/plots/test_error_vs_batch.png.tmp'
set title 'test error against batch size (lr = lr0 * B / 32)'
set xlabel 'batch size B'
set ylabel 'test error (%)'
set key top right
set grid
set logscale x
set format x '%g'
plot 'results/claims/batch-size/plots/test_error_vs_batch.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'bn', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'gn', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'ln', \
     '' index 3 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 4 notitle, '' index 3 using 1:2 with lines lw 2 lc 4 title 'none'
