set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/learning-rate/plots/validation_by_lr.png.tmp'
set title 'small-cnn: validation accuracy after training, by learning rate'
set xlabel 'learning rate (SGD)'
set ylabel 'validation accuracy'
set key bottom left
set grid
set logscale x
set format x '%g'
plot 'results/claims/learning-rate/plots/validation_by_lr.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn'
